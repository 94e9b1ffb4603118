"""The names of the connection-record formats :mod:`trustshield.ingest.connections` reads.

Standard library only, so the command line lists them without loading the readers.
"""

#: input formats that hold connection records, by the name ``--format`` takes
FORMATS = ("zeek", "nfdump", "cicflowmeter", "pcap")
