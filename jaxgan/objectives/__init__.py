"""Objectives: one file per family, each with its config block, its checks, its phase table and its `build`."""
