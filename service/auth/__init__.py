"""Authentication of EHR calls: the trust file, key sources and JWT verification."""

from service.auth.trust import TrustError, TrustStore
from service.auth.verify import AuthError, ReplayStore, TokenVerifier, Verified

__all__ = ["AuthError", "ReplayStore", "TokenVerifier", "TrustError", "TrustStore", "Verified"]
