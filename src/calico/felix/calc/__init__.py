"""Felix's calculation graph: datastore KVs -> dataplane messages.

``calico.felix.calc.graph.CalcGraph`` is the entry point (``on_update``,
``on_in_sync``, ``flush``); the other modules are its nodes, one concept
each, each testable alone.  Nothing is re-exported here so that
``calico.felix.convert`` (which the graph uses) can import ``calc.model``
without importing the graph.
"""
