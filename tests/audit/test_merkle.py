"""RFC 9162 Merkle hashing: reference vectors, streaming roots, frontier, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.audit import merkle

# Reference vectors of RFC 6962 / RFC 9162 implementations (certificate-transparency-go, Trillian).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
LEAF_HASHES = [merkle.leaf_hash(d) for d in CT_LEAVES]


def reference_root(leaves: list[bytes]) -> bytes:
    """The recursive MTH definition of RFC 9162 section 2.1.1, written as literally as possible."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_roots_match_the_reference_vectors():
    for size, expected in enumerate(CT_ROOTS):
        assert merkle.root_from_leaf_hashes(LEAF_HASHES[:size]).hex() == expected
        assert merkle.InMemoryTree(LEAF_HASHES[:size]).root().hex() == expected


def test_inclusion_proofs_match_the_reference_vectors():
    tree = merkle.InMemoryTree(LEAF_HASHES)
    for (index, size), expected in CT_INCLUSION.items():
        proof = merkle.inclusion_proof(tree, index, size)
        assert [p.hex() for p in proof] == expected
        assert merkle.verify_inclusion(LEAF_HASHES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@given(st.integers(min_value=0, max_value=300))
def test_streaming_root_and_frontier_equal_the_recursive_definition(n):
    leaves = leaves_of(n)
    expected = reference_root(leaves)
    assert merkle.root_from_leaf_hashes(leaves) == expected
    frontier = merkle.Frontier()
    frontier.extend(leaves)
    assert len(frontier.nodes) == n.bit_count()
    restored = merkle.Frontier.from_dict(frontier.to_dict())
    assert restored.root() == expected
    # appending to a restored frontier equals building from scratch: batches need no older leaf
    restored.extend(leaves_of(n + 5)[n:])
    assert restored.root() == reference_root(leaves_of(n + 5))


@settings(max_examples=200)
@given(st.data())
def test_every_inclusion_proof_verifies_and_nothing_else_does(data):
    size = data.draw(st.integers(min_value=1, max_value=130))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    leaves = leaves_of(size + 3)
    tree = merkle.InMemoryTree(leaves)
    root = reference_root(leaves[:size])
    proof = merkle.inclusion_proof(tree, index, size)
    assert len(proof) <= (size - 1).bit_length()
    assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
    # wrong leaf, wrong index, wrong size, altered or shortened proof: all refused
    other = (index + 1) % size
    if other != index:
        assert not merkle.verify_inclusion(leaves[other], index, size, proof, root)
        assert not merkle.verify_inclusion(leaves[index], other, size, proof, root)
    # a size whose path has another shape is refused (the size itself is authenticated by the signed root)
    if (size - 1).bit_length() != size.bit_length() or index == size - 1:
        assert not merkle.verify_inclusion(leaves[index], index, size + 1, proof, root)
    if proof:
        assert not merkle.verify_inclusion(leaves[index], index, size, proof[:-1], root)
        bad = [*proof]
        bad[0] = bytes(32)
        assert not merkle.verify_inclusion(leaves[index], index, size, bad, root)
    assert not merkle.verify_inclusion(leaves[index], index, size, [*proof, bytes(32)], root)


@settings(max_examples=200)
@given(st.data())
def test_every_consistency_proof_verifies_and_forks_do_not(data):
    new_size = data.draw(st.integers(min_value=1, max_value=130))
    old_size = data.draw(st.integers(min_value=0, max_value=new_size))
    leaves = leaves_of(new_size)
    tree = merkle.InMemoryTree(leaves)
    old_root, new_root = reference_root(leaves[:old_size]), reference_root(leaves)
    proof = merkle.consistency_proof(tree, old_size, new_size)
    assert merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    if 0 < old_size < new_size:
        # a fork: the old tree had a different leaf
        forked = [*leaves[:old_size]]
        forked[data.draw(st.integers(min_value=0, max_value=old_size - 1))] = merkle.leaf_hash(b"forged")
        assert not merkle.verify_consistency(old_size, new_size, reference_root(forked), new_root, proof)
        assert not merkle.verify_consistency(old_size, new_size, old_root, merkle.leaf_hash(b"x"), proof)
        other_root = reference_root(leaves_of(new_size + 1))
        assert not merkle.verify_consistency(old_size, new_size + 1, old_root, other_root, proof)
        if proof:
            assert not merkle.verify_consistency(old_size, new_size, old_root, new_root, proof[1:])


def test_bad_arguments_are_refused():
    tree = merkle.InMemoryTree(leaves_of(4))
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(tree, 4, 4)
    with pytest.raises(ValueError, match="consistency"):
        merkle.consistency_proof(tree, 5, 4)
    with pytest.raises(ValueError, match="popcount"):
        merkle.Frontier(3, [bytes(32)])
