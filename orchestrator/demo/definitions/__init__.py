"""The demo's Conductor JSON definitions (a package so that the files ship in the wheel)."""
