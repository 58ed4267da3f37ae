package kojitest

import (
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// methodCall is an XML-RPC request as encoding/xml reads it.
type methodCall struct {
	Method string  `xml:"methodName"`
	Params []value `xml:"params>param>value"`
}

// value is an XML-RPC scalar; the hub's two methods take nothing else.
type value struct {
	String *string `xml:"string"`
	Int    *string `xml:"int"`
	I4     *string `xml:"i4"`
	Text   string  `xml:",chardata"`
}

// member is one field of an XML-RPC struct in an answer; a nil val is <nil/>.
type member struct {
	name string
	val  any
}

func (h *Hub) serveRPC(w http.ResponseWriter, r *http.Request) {
	var call methodCall
	if err := xml.NewDecoder(r.Body).Decode(&call); err != nil {
		http.Error(w, "bad XML-RPC request: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.calls[call.Method]++
	stall := h.stall
	h.mu.Unlock()
	if stall {
		select {
		case <-r.Context().Done():
		case <-h.released:
		}
		return
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><methodResponse>`)
	switch call.Method {
	case "getBuild":
		if len(call.Params) != 1 {
			fault(&b, "getBuild takes 1 argument")
			break
		}
		b.WriteString("<params><param>")
		writeValue(&b, h.getBuild(call.Params[0]))
		b.WriteString("</param></params>")
	case "listRPMs":
		id, ok := intParam(call.Params)
		if !ok {
			fault(&b, "listRPMs takes a build ID")
			break
		}
		b.WriteString("<params><param>")
		writeValue(&b, h.listRPMs(id))
		b.WriteString("</param></params>")
	default:
		fault(&b, fmt.Sprintf("Invalid method: %s", call.Method))
	}
	b.WriteString("</methodResponse>")
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(b.String()))
}

func intParam(ps []value) (int, bool) {
	if len(ps) != 1 {
		return 0, false
	}
	s := ps[0].Int
	if s == nil {
		s = ps[0].I4
	}
	if s == nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(*s))
	return n, err == nil
}

// getBuild answers like koji-hub: an int is a build ID, a string an NVR.
func (h *Hub) getBuild(v value) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b *Build
	if id, ok := intParam([]value{v}); ok {
		b = h.builds[id]
	} else {
		nvr := v.Text
		if v.String != nil {
			nvr = *v.String
		}
		for _, c := range h.builds {
			if c.NVR() == nvr {
				b = c
			}
		}
	}
	if b == nil {
		return nil
	}
	return []member{
		{"id", b.ID}, {"build_id", b.ID}, {"package_name", b.Name}, {"name", b.Name},
		{"version", b.Version}, {"release", b.Release}, {"epoch", nil}, {"nvr", b.NVR()},
		{"state", b.State}, {"draft", false}, {"task_id", nil}, {"owner_name", "tester"},
		{"volume_id", 0}, {"volume_name", "DEFAULT"}, {"extra", nil}, {"cg_id", nil},
		{"start_time", nil}, {"source", nil},
	}
}

func (h *Hub) listRPMs(id int) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []any{}
	b := h.builds[id]
	if b == nil {
		return out
	}
	for _, r := range b.RPMs {
		out = append(out, []member{
			{"id", r.ID}, {"name", r.Name}, {"version", r.Version}, {"release", r.Release},
			{"nvr", r.Name + "-" + r.Version + "-" + r.Release}, {"arch", r.Arch}, {"epoch", nil},
			{"draft", false}, {"payloadhash", r.PayloadHash}, {"size", r.Size},
			{"buildtime", 1700000000}, {"build_id", b.ID}, {"buildroot_id", 1},
			{"external_repo_id", 0}, {"external_repo_name", "INTERNAL"}, {"metadata_only", false},
			{"extra", nil},
		})
	}
	return out
}

func writeValue(b *strings.Builder, v any) {
	b.WriteString("<value>")
	switch v := v.(type) {
	case nil:
		b.WriteString("<nil/>")
	case bool:
		if v {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case int:
		writeInt(b, int64(v))
	case int64:
		writeInt(b, v)
	case string:
		b.WriteString("<string>")
		_ = xml.EscapeText(b, []byte(v))
		b.WriteString("</string>")
	case []member:
		b.WriteString("<struct>")
		for _, m := range v {
			fmt.Fprintf(b, "<member><name>%s</name>", m.name)
			writeValue(b, m.val)
			b.WriteString("</member>")
		}
		b.WriteString("</struct>")
	case []any:
		b.WriteString("<array><data>")
		for _, e := range v {
			writeValue(b, e)
		}
		b.WriteString("</data></array>")
	default:
		panic(fmt.Sprintf("kojitest: cannot encode %T", v))
	}
	b.WriteString("</value>")
}

// writeInt uses <i8> beyond 32 bits, as koji's marshaller does.
func writeInt(b *strings.Builder, n int64) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		fmt.Fprintf(b, "<i8>%d</i8>", n)
		return
	}
	fmt.Fprintf(b, "<int>%d</int>", n)
}

func fault(b *strings.Builder, msg string) {
	b.WriteString("<fault>")
	writeValue(b, []member{{"faultCode", 1000}, {"faultString", msg}})
	b.WriteString("</fault>")
}
