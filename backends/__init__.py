"""Built-in coin backends (installed as ``transient_backends``): the bitcoind-family
base class and the Dogecoin backend. Bitcoin and Litecoin ship as plugins."""
