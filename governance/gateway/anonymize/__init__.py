"""The release pipeline, independent of the database: generalize, pseudonymize, k-anonymize, write.

Pass one reads each subject's rows once, generalizes quasi-identifiers, pseudonymizes, counts equivalence
classes and spills the prepared rows to a temporary file (so the source, typically a decrypting reader, is
read only once). Pass two streams the spill file, drops rows of classes below k (or below l), writes the
output in batches and reports which subjects ended up in the release. Memory holds one batch plus the class
counts.

The modules, by concern: `inputs` (records and options), `figures` (the manifest's figures), `layout` (columns
and the text encoding), `measurement` (identifying power), `spill`, `pass_one`, `classes` (row classes and
footprints), `pass_two` and `release` (`write_release`, the order of the steps). This package re-exports the
public names, so callers import `governance.gateway.anonymize` only.
"""

from governance.gateway.anonymize.figures import ReleaseFigures
from governance.gateway.anonymize.inputs import (
    PSEUDONYM_COLUMN,
    IdentifyingFieldError,
    Partitions,
    PersonLevel,
    SubjectRecord,
)
from governance.gateway.anonymize.release import write_release

__all__ = [
    "PSEUDONYM_COLUMN",
    "IdentifyingFieldError",
    "Partitions",
    "PersonLevel",
    "ReleaseFigures",
    "SubjectRecord",
    "write_release",
]
