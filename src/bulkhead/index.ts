export { Bulkhead, type BulkheadEvents, type BulkheadOptions } from './Bulkhead.js';
