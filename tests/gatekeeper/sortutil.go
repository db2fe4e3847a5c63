package main

import "sort"

func sortStrings(l []string) { sort.Strings(l) }
