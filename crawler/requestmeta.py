"""The keys this project puts in ``Request.meta``, named for what they hold.

Spiders set them; the spider middlewares and the distributed add-on read them.
"""

# (site, article_id) of an article request: lets a link to an archived article be skipped
# before it is fetched, and a worker's lost request be put back.
ARTICLE_IDENTITY = "article_identity"
# Whether the catalog held the article when its request was let through (set by the
# incremental middleware; absent: not known): a new article has no capture to compare with.
CATALOGED_BEFORE = "cataloged_before"
# The URL of the article whose further page this request fetches.
CONTINUATION_OF = "continuation_of"
