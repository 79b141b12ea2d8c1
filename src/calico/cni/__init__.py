"""The ``calico`` CNI plugin and the ``calico-ipam`` IPAM plugin.

Both are short-lived executables a container runtime runs once per
operation (CNI spec 1.1: ADD, DEL, CHECK, GC, STATUS, VERSION; config
versions 0.3.0 to 1.1.0), so this package imports nothing at package level
and its modules stay clear of pydantic, click and rich.

Modules: ``spec`` (the protocol: environment, stdin, versions, errors,
dispatch), ``result`` (result types per version), ``config`` (Calico's
network config), ``names`` (WorkloadEndpoint names), ``wep`` (the endpoint
and profile documents, workload metadata from ``args``), ``store`` (their
datastore reads and writes), ``netns`` (entering CNI_NETNS), ``netsetup``
(veth, sysctls, routes), ``ipam`` (running the delegated IPAM plugin),
``invocation`` (per-run context and error classification), ``add``,
``delete``, ``check``, ``gc``, ``status`` (the commands), ``plugin`` and
``ipam_main`` (the two executables).
"""
