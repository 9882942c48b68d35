// Jest runs each test file in its own realm; onnxruntime-node's native binding creates typed arrays in
// Node's main realm, which then fail the realm-local `instanceof Float32Array` checks inside
// onnxruntime-common. Sharing the main realm's typed-array constructors keeps both sides consistent.
const { TestEnvironment } = require('jest-environment-node');

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of [
      'ArrayBuffer',
      'Float32Array',
      'Float64Array',
      'Int8Array',
      'Int16Array',
      'Int32Array',
      'Uint8Array',
      'Uint8ClampedArray',
      'Uint16Array',
      'Uint32Array',
      'BigInt64Array',
      'BigUint64Array',
    ]) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = OrtEnvironment;
