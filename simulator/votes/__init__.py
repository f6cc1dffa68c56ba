"""The vote model: from the config's polls to blocks of simulated vote shares.

``polls`` reads the polls into arrays and pools them, ``house`` estimates the pollsters' house
effects and the polls' overdispersion, ``error`` sets the shared polling error (the election-day
shock), ``model`` assembles them into one :class:`~simulator.votes.model.VoteModel`, and ``draws``
is the compiled stage that turns it into a block of vote shares, run by run.
"""
