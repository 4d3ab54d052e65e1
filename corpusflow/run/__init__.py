"""The run directory and how a run is launched and watched: run plan, manifest, runners, progress, profiling."""
