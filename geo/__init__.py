"""The domain: craft villages, material zones and routes, in rooms (ARCHITECTURE.md).

kernel → cql2 → store → query → io → workflows, each importing only those before it;
analysis imports only the kernel, and workflows is the one room that joins it to data.
"""
