import { describeMemoryBound } from '../helpers/memory-bound.ts';

describeMemoryBound('an at-least-once list');
