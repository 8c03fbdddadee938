"""The index credential: finding and parsing the netrc without printing it (`netrc_file`), and
keyed fingerprints that tell which password a build used and an audit searched for
(`fingerprints`)."""
