"""calico-felix: the per-host agent (syncer → calc graph → sequencer → dataplane)."""
