"""BGP for Calico hosts: BIRD 2 configuration from the datastore, and BIRD itself.

confd's job (``confd/pkg/backends/calico``, ``node/.../confd/templates``)
re-done for BIRD 2, plus calicoctl's ``node status``.  Modules:

- ``model``: the datastore's nodes, BGP configurations, peers, pools and this
  node's blocks, read into typed values (``load_inputs``); ``passwords``:
  BGP passwords from Secret references; ``_values``: durations, AS numbers;
- ``peers``: which sessions this node opens (mesh, global, node-specific,
  route reflectors) and their names, ``Mesh_10_0_0_2`` and so on;
- ``filters``: the BIRD filter code (aggregation, export, kernel programming);
- ``render``: the whole ``bird.cfg`` (``render_config``);
- ``daemon``: the watch -> render -> ``bird -p`` -> rename -> ``configure`` loop;
- ``main``: the ``calico-bgp`` program;
- ``birdcl``: the control-socket client; ``bird_process``: running ``bird``;
- ``status``: ``calicoctl node status`` output.
"""
