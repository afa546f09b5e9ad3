export { type AcquireOptions, Semaphore, type SemaphoreOptions } from './Semaphore.js';
