export {
  type BatchCallOptions,
  Batcher,
  type BatcherOptions,
  type BatchResults,
} from './Batcher.js';
