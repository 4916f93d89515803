"""The demo (`make run`) and the synthetic population's commands: everything that needs the registry simulator.

Production code never imports this package or the simulator; the `srsp demo`, `srsp synth` and `srsp simulator`
commands reach the `srsp` command through Flask's `flask.commands` entry points (setup.cfg).
"""
