"""calico-node: per-host start-up (Node, IP autodetection, default pool) and supervision."""
