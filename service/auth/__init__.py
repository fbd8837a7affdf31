"""Authentication of EHR calls: the trust file, key sources and JWT verification."""

from service.auth.trust import TrustError, TrustStore
from service.auth.verify import AuthError, TokenVerifier, Verified

__all__ = ["AuthError", "TokenVerifier", "TrustError", "TrustStore", "Verified"]
