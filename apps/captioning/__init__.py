"""Image captioning: a seqlib Show-Attend-Tell decoder (soft attention over a
CNN's grid, doubly stochastic regulariser) trained on generated scenes of
coloured shapes, or on a user's Flickr8k or COCO copy, decoded by beam search
inside the graph and scored with sacreBLEU against greedy search and a
most-frequent-caption baseline.

`python -m apps.captioning prepare | train | evaluate | caption | export`.
"""
