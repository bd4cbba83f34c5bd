"""The offline indexer: scan → metadata → decode/thumbnail → labelers → writer."""
