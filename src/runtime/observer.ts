// The dispatcher's import path: the observer is defined next to the metrics that implement it (metrics/pipeline-observer.ts).
export { NO_OBSERVER, type Outcome, type PipelineObserver } from '../metrics/pipeline-observer.ts';
