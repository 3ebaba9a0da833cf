"""The ledger (台账): the problem query and its filters, lists, exports, statistics and stored unit reports."""
