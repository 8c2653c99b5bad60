"""Entity tags: a strong validator from a representation's bytes, and If-None-Match."""

import hashlib


def etag_for(body: bytes) -> str:
    """A strong validator derived from the representation's bytes."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list with one ETag."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))
