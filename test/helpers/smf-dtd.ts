// The part of /usr/share/lib/xml/dtd/service_bundle.dtd.1 (illumos) that the
// labslot manifests use, as child-order patterns and attribute rules, so the
// tests catch what svccfg's validating import would refuse: an element out of
// the DTD's order, a missing required attribute, a value outside an
// enumeration. Transcribed from the DTD; elements it does not list are errors.
import { allElements, type XmlElement } from './xml-parse.js';

interface ElementRule {
  /** The content model over child element names, each followed by a space. */
  children: RegExp;
  /** Whether character data (other than white space) may appear. */
  text?: boolean;
  required?: readonly string[];
  optional?: readonly string[];
  /** Enumerated attributes and their allowed values. */
  enums?: Readonly<Record<string, readonly string[]>>;
}

const BOOL = ['true', 'false'];
const RESTART_ON = ['error', 'restart', 'refresh', 'none'];
const GROUPING = ['require_all', 'require_any', 'exclude_all', 'optional_all'];
const PROP_TYPES = [
  'count',
  'integer',
  'opaque',
  'host',
  'hostname',
  'net_address_v4',
  'net_address_v6',
  'time',
  'astring',
  'ustring',
  'boolean',
  'fmri',
  'uri',
];

const RULES: Readonly<Record<string, ElementRule>> = {
  service_bundle: { children: /^((service_bundle )*|(service )*)$/, required: ['type', 'name'] },
  service: {
    children:
      /^(create_default_instance )?(single_instance )?(restarter )?(dependency )*(dependent )*(method_context )?(exec_method )*(property_group )*(instance )*(stability )?(template )?$/,
    required: ['name', 'version', 'type'],
    enums: { type: ['service', 'restarter', 'milestone'] },
  },
  instance: {
    children:
      /^(restarter )?(dependency )*(dependent )*(method_context )?(exec_method )*(property_group )*(template )?$/,
    required: ['name', 'enabled'],
    enums: { enabled: BOOL },
  },
  create_default_instance: { children: /^$/, required: ['enabled'], enums: { enabled: BOOL } },
  single_instance: { children: /^$/ },
  restarter: { children: /^service_fmri $/ },
  dependency: {
    children: /^(service_fmri )*(stability )?((propval|property) )*$/,
    required: ['name', 'grouping', 'restart_on', 'type'],
    optional: ['delete'],
    enums: { grouping: GROUPING, restart_on: RESTART_ON, delete: BOOL },
  },
  dependent: {
    children: /^service_fmri (stability )?((propval|property) )*$/,
    required: ['name', 'grouping', 'restart_on'],
    optional: ['delete', 'override'],
    enums: { grouping: GROUPING, restart_on: RESTART_ON, delete: BOOL, override: BOOL },
  },
  service_fmri: { children: /^$/, required: ['value'] },
  method_context: {
    children: /^((method_profile|method_credential) )?(method_environment )?$/,
    optional: ['working_directory', 'project', 'resource_pool'],
  },
  method_credential: {
    children: /^$/,
    required: ['user'],
    optional: ['group', 'supp_groups', 'privileges', 'limit_privileges'],
  },
  method_environment: { children: /^(envvar )+$/ },
  envvar: { children: /^$/, required: ['name', 'value'] },
  exec_method: {
    children: /^(method_context )?(stability )?((propval|property) )*$/,
    required: ['type', 'name', 'exec', 'timeout_seconds'],
    optional: ['delete'],
    enums: { type: ['method', 'monitor'], delete: BOOL },
  },
  property_group: {
    children: /^(stability )?((propval|property) )*$/,
    required: ['name', 'type'],
    optional: ['delete'],
    enums: { delete: BOOL },
  },
  propval: {
    children: /^$/,
    required: ['name', 'type', 'value'],
    optional: ['override'],
    enums: { type: PROP_TYPES, override: BOOL },
  },
  stability: {
    children: /^$/,
    required: ['value'],
    enums: { value: ['Standard', 'Stable', 'Evolving', 'Unstable', 'External', 'Obsolete'] },
  },
  template: { children: /^common_name (description )?(documentation )?(pg_pattern )*$/ },
  common_name: { children: /^(loctext )+$/ },
  description: { children: /^(loctext )+$/ },
  loctext: { children: /^$/, text: true, required: ['xml:lang'] },
  documentation: { children: /^((doc_link|manpage) )*$/ },
  doc_link: { children: /^$/, required: ['name', 'uri'] },
  manpage: { children: /^$/, required: ['title', 'section'], optional: ['manpath'] },
};

/** Everything in `root` that the SMF DTD would refuse; empty when it is valid (for the subset above). */
export function smfDtdViolations(root: XmlElement): string[] {
  const problems: string[] = [];
  if (root.name !== 'service_bundle') problems.push(`the root is <${root.name}>, not <service_bundle>`);
  for (const element of allElements(root)) {
    const rule = RULES[element.name];
    if (!rule) {
      problems.push(`<${element.name}> is not an SMF manifest element this check knows`);
      continue;
    }
    const names = element.children
      .filter((c): c is XmlElement => typeof c !== 'string')
      .map((c) => `${c.name} `)
      .join('');
    if (!rule.children.test(names))
      problems.push(`<${element.name}> may not contain, in this order: ${names.trim() || '(nothing)'}`);
    const text = element.children.filter((c): c is string => typeof c === 'string').join('');
    if (!rule.text && text.trim() !== '') problems.push(`<${element.name}> may not contain text`);
    const allowed = new Set([...(rule.required ?? []), ...(rule.optional ?? []), ...Object.keys(rule.enums ?? {})]);
    for (const name of rule.required ?? [])
      if (!element.attrs.has(name)) problems.push(`<${element.name}> lacks ${name}`);
    for (const [name, value] of element.attrs) {
      if (!allowed.has(name)) problems.push(`<${element.name}> has no attribute ${name}`);
      const values = rule.enums?.[name];
      if (values && !values.includes(value))
        problems.push(`<${element.name} ${name}="${value}"> is not one of ${values.join(', ')}`);
    }
  }
  return problems;
}
