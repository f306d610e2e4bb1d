//go:build ignore

// Generates ent (with entgql) from ./ent/schema. Run from the module root
// (go generate ./... does): the paths below are relative to it.
package main

import (
	"log"
	"slices"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	// entgql's templates, with three of ours in place of its collection,
	// pagination and edge templates (ent/template: the COUNT only for
	// totalCount, a one-to-many edge's page per parent read by a LATERAL
	// join, a loaded edge's connection built without a query's options).
	collection := gen.MustParse(gen.NewTemplate("gql_collection").Funcs(entgql.TemplateFuncs).ParseFiles("./ent/template/gql_collection.tmpl"))
	pagination := gen.MustParse(gen.NewTemplate("gql_pagination").Funcs(entgql.TemplateFuncs).ParseFiles("./ent/template/gql_pagination.tmpl"))
	edge := gen.MustParse(gen.NewTemplate("gql_edge").Funcs(entgql.TemplateFuncs).ParseFiles("./ent/template/gql_edge.tmpl"))
	var gqlTemplates []*gen.Template
	for _, t := range entgql.AllTemplates {
		switch t {
		case entgql.CollectionTemplate:
			t = collection
		case entgql.PaginationTemplate:
			t = pagination
		case entgql.EdgeTemplate:
			t = edge
		}
		gqlTemplates = append(gqlTemplates, t)
	}
	ex, err := entgql.NewExtension(
		entgql.WithTemplates(gqlTemplates...),
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./schema/ent.graphql"),
		entgql.WithWhereInputs(true),
		entgql.WithNodeDescriptor(false),
		entgql.WithRelaySpec(true),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	templates := append(slices.Clone(gqlTemplates),
		gen.MustParse(gen.NewTemplate("pulid").ParseFiles("./ent/schema/pulid/template/pulid.tmpl")),
		gen.MustParse(gen.NewTemplate("querywherep").ParseFiles("./ent/schema/pulid/template/pulid.tmpl")),
		gen.MustParse(gen.NewTemplate("scan").ParseFiles("./ent/template/scan.tmpl")))
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:    "./ent",
		Package:   "github.com/neksio/neksio/ent",
		Templates: templates,
		Features: []gen.Feature{
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureIntercept,
			gen.FeatureUpsert,
			gen.FeatureLock,
			gen.FeatureNamedEdges,
			gen.FeatureModifier,
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}
