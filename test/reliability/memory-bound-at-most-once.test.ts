import { describeMemoryBound } from '../helpers/memory-bound.ts';

describeMemoryBound('an at-most-once list');
