"""The knowledge pack: loading and validating the clinical data in `cards/`."""

from service.knowledge.model import Code, Concept, KnowledgePack, PackError, Rule, Table
from service.knowledge.pack import check_pack, load_pack

__all__ = ["Code", "Concept", "KnowledgePack", "PackError", "Rule", "Table", "check_pack", "load_pack"]
