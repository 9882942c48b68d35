export {
  detectLayout,
  isImagePath,
  IgnoredReason,
  IMAGE_EXTENSIONS,
  type DetectedLayout,
  type IgnoredPath,
  type LayoutEntry,
  type LayoutKind,
} from './detect';
export { comparePaths, naturalCompare } from './natural-sort';
