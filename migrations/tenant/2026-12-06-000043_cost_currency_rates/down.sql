DROP TABLE cost_currency_rates;
