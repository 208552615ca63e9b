"""How far a map can be trusted: faithfulness, localization, sanity, rank correlations.

:mod:`.metric` (every metric on one signature, ``(model, x, maps, targets) -> Score``),
:mod:`.faithfulness` (deletion, insertion), :mod:`.baselines` (maps to compare with),
:mod:`.localization`, :mod:`.sanity`, :mod:`.rankcorr`, :mod:`.attention` (attention vs
attribution).
"""
