"""The lab: a multi-host Calico cluster inside network namespaces on one machine.

Modules (import them directly; this package imports nothing so that the
workload server and the probe client, run dozens of times, start fast):

- ``netns``: named namespaces, commands inside them, verified sysctls;
- ``state``: what a lab owns, persisted under ``/run/calico-lab/<lab>/``, and
  ``teardown(lab)`` that removes all of it, also after a crash;
- ``procs``: long-lived processes in lab namespaces (logs, pidfiles, stop);
- ``hosts`` / ``fabric``: the hosts, the switch and the gateway/router;
- ``workload``: test workloads wired Calico-style without CNI;
- ``server`` / ``probe``: the workload server and the reachability probe.
"""
