"""Stock forecasting: a seqlib GRU or LSTM reads a window of daily prices and
forecasts the next days' closes as quantiles (a median and an 80% interval),
measured against persistence, a moving average, a ridge autoregression on
returns and GARCH(1,1) on the same test period.

`python -m apps.stocks prepare | train | evaluate | predict | export`.
"""
