"""Query-language backends: syntax only, subclasses of the stock pySigma backends or our own."""
