"""The dashboard's figures: what `qmon audit` would count, kept current by the check
(`facts`) and counted per page in SQL (`query`), so that no page runs an audit."""
