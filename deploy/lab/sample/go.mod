module podferry.lab/sample

go 1.26
