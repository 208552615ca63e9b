"""How far a map can be trusted: faithfulness, localization, sanity, rank correlations.

:mod:`.metric` (every metric on one signature, ``(model, x, maps, targets) -> Score``),
:mod:`.faithfulness` (deletion, insertion), :mod:`.confidence` (Average Drop, Increase in
Confidence), :mod:`.imputation` (ROAD's noisy linear imputation), :mod:`.bootstrap`
(intervals over many images), :mod:`.baselines` (maps to compare with),
:mod:`.localization`, :mod:`.sanity`, :mod:`.reliance`, :mod:`.rankcorr`,
:mod:`.attention` (attention vs attribution, with :mod:`.leave_one_out`).
"""
