"""Compression techniques, framework-neutral part: the contract and registry (base.py) and running a
plan step on the model's framework (dispatch.py). The implementations live with their framework, in
`edge_sdk/frameworks/<name>/techniques/`, and register themselves by (name, framework).

Nothing is re-exported here: the framework packages import `base` while `dispatch` imports them.
"""
