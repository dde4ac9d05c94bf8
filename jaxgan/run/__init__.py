"""The run around the step: loop, checkpoints, workdir lock, writers, logs, profiling, jobs, loading runs."""
