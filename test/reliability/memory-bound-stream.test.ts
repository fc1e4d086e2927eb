import { describeMemoryBound } from '../helpers/memory-bound.ts';

describeMemoryBound('a stream');
