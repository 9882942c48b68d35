/**
 * There is no broker: events travel through the job system, on one queue, so they work the same in-process
 * (embedded) and over BullMQ (distributed). A job on this queue carries one event: its kind is the message's
 * full name (e.g. `vigil.events.v1.ImageIngested`) and its payload the message's protobuf JSON. Every process
 * that works this queue must register a handler for every event kind produced on it.
 */
export const EVENTS_QUEUE = 'events';
