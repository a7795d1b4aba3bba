"""The shared kernel below every domain: the vocabulary every layer may use without importing a domain.

- `principals`: who acts (Principal, ActorRef) on what (Resource);
- `routes`: the route declarations (`requires`, `public`, `resource_of`) that access's `enforce` hook reads.

The kernel imports no domain (an import-linter contract in pyproject.toml). The other kernel modules are still at
the package's top level: `governance.db`, `governance.errors`, `governance.settings`, `governance.keys`,
`governance.api`, `governance.inputs`.
"""
