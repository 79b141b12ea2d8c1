"""Project Calico in Python: pure Layer-3 networking for VMs and containers."""

__version__ = "0.1.0"
