# a leading comment pykickstart drops when an include starts in a section
echo from the snippet
# a comment it keeps
