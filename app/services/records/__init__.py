"""Records: members, their engagement per period, the activities, and what is derived from them."""
