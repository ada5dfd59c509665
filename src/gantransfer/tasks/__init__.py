"""Task setups: each builds modules, loss terms and a sampler for the one engine, nothing else."""
